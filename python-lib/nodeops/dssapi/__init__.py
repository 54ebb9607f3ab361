"""How node-ops talks to the DSS API: the one home for every ``dataikuapi`` call,
one module per DSS area.

- :mod:`.connection`: timeouts and retries on every call, who the client acts for,
  :func:`call` (a failure becomes :class:`~nodeops.errors.Unavailable` naming what was asked);
- :mod:`.projects`: project keys, settings, permissions and insights;
- :mod:`.messaging`: messaging channels (where scenario reporters send);
- :mod:`.jobs`: running jobs and scenarios, failed scenario runs;
- :mod:`.notebooks`: Jupyter sessions;
- :mod:`.folders`: managed folders;
- :mod:`.macros`: running a plugin's macro and reading its result;
- :mod:`.models`: saved models and their versions, ML tasks and their unused split data;
- :mod:`.admin`: users, groups, general settings, licence, sanity check, activity.

Functions take a ``dataikuapi.DSSClient`` and hide what differs between DSS and
client versions (feature detection with ``hasattr``, never version numbers).
Callers use the names below (``dssapi.project_keys(client)``); the modules import
nothing above this layer.
"""

from .admin import (active_users, admin_groups, admin_logins, enabled_user_count, general_settings,
                    license_expiry_ms, sanity_check, update_general_settings, user_names)
from .connection import (TIMEOUT, TIMEOUT_ENV, DataikuException, TimeoutAdapter, call, call_if_offered, connect,
                         identify, set_timeout, timeout_of, timeout_seconds, unreachable)
from .folders import delete_folder_file, list_folder_files, managed_folder, read_folder_file, write_folder_file
from .jobs import (failed_scenario_runs, running_job_ids, running_jobs, running_jobs_by_project,
                   running_scenario_count, running_scenarios)
from .macros import MAX_WAIT_ENV, MacroFailed, max_wait_seconds, run_macro
from .notebooks import NEW_NOTEBOOK_API, OLD_NOTEBOOK_API, notebook_sessions, unload_session
from .messaging import is_mail_channel, messaging_channels, send_mail, user_emails
from .models import (GUESS_VERSION_TIME_FIELDS, delete_saved_model_versions, ml_task_ids, remove_unused_splits,
                     saved_model_ids, saved_model_versions, version_time_ms)
from .projects import insight_ids, permissions, project_keys, project_names, project_setup, set_permissions

__all__ = ["DataikuException", "delete_folder_file", "GUESS_VERSION_TIME_FIELDS", "MAX_WAIT_ENV", "MacroFailed", "NEW_NOTEBOOK_API", "OLD_NOTEBOOK_API", "TIMEOUT", "TIMEOUT_ENV", "TimeoutAdapter", "active_users", "admin_groups", "admin_logins", "call", "call_if_offered", "connect", "delete_saved_model_versions", "enabled_user_count", "failed_scenario_runs", "general_settings", "identify", "insight_ids", "is_mail_channel", "license_expiry_ms", "list_folder_files", "managed_folder", "max_wait_seconds", "messaging_channels", "ml_task_ids", "notebook_sessions", "permissions", "project_keys", "project_names", "project_setup", "read_folder_file", "remove_unused_splits", "run_macro", "running_job_ids", "running_jobs", "running_jobs_by_project", "running_scenario_count", "running_scenarios", "sanity_check", "send_mail", "user_emails", "saved_model_ids", "saved_model_versions", "set_permissions", "set_timeout", "timeout_of", "timeout_seconds", "unload_session", "unreachable", "update_general_settings", "user_names", "version_time_ms", "write_folder_file"]
