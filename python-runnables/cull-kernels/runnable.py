# cull-kernels macro: all logic is in python-lib/nodeops (operation "cull-kernels").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "cull-kernels"
