# cull-kernels scenario step: all logic is in python-lib/nodeops (operation "cull-kernels").
from nodeops.dss import run_step

run_step("cull-kernels")
