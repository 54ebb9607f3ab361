# cull-kernels-table macro: the table face of operation "cull-kernels" (all logic is in python-lib/nodeops).
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "cull-kernels-table"
