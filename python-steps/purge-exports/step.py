# purge-exports scenario step: all logic is in python-lib/nodeops (operation "purge-exports").
from nodeops.dss import run_step

run_step("purge-exports")
