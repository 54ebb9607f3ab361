# purge-scenario-logs scenario step: all logic is in python-lib/nodeops (operation "purge-scenario-logs").
from nodeops.dss import run_step

run_step("purge-scenario-logs")
