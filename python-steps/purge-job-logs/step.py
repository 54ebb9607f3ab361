# purge-job-logs scenario step: all logic is in python-lib/nodeops (operation "purge-job-logs").
from nodeops.dss import run_step

run_step("purge-job-logs")
