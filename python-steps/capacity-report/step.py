# Capacity report scenario step: all logic is in python-lib/nodeops (operation "capacity-report").
from nodeops.dss import run_step

run_step("capacity-report")
