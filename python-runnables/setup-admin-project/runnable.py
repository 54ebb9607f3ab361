# setup-admin-project macro: all logic is in python-lib/nodeops (operation "setup-admin-project").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "setup-admin-project"
