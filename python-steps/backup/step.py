# backup scenario step: all logic is in python-lib/nodeops (operation "backup").
from nodeops.dss import run_step

run_step("backup")
