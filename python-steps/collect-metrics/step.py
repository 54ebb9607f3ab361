# collect-metrics scenario step: all logic is in python-lib/nodeops (operation "collect-metrics").
from nodeops.dss import run_step

run_step("collect-metrics")
