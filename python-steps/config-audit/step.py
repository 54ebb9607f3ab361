# config-audit scenario step: all logic is in python-lib/nodeops (operation "config-audit").
from nodeops.dss import run_step

run_step("config-audit")
