# reclaim-disk scenario step: all logic is in python-lib/nodeops (operation "reclaim-disk").
from nodeops.dss import run_step

run_step("reclaim-disk")
