# reclaim-disk macro: all logic is in python-lib/nodeops (operation "reclaim-disk").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "reclaim-disk"
