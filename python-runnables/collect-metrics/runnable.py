# collect-metrics macro: all logic is in python-lib/nodeops (operation "collect-metrics").
from nodeops.dss import Runnable, progress_target, run_macro


class MyRunnable(Runnable):
    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config
        self.target = None

    def get_progress_target(self):
        self.target = progress_target("collect-metrics", self.project_key, self.config, self.plugin_config)
        return self.target

    def run(self, progress_callback):
        return run_macro("collect-metrics", self.project_key, self.config, self.plugin_config, progress_callback,
                         target=self.target)
