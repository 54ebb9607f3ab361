# health-check scenario step: all logic is in python-lib/nodeops (operation "health-check").
from nodeops.dss import run_step

run_step("health-check")
