"""A form's list that cannot be had is one choice saying why, never a traceback in the form."""

from nodeops import choices


def test_no_client_is_a_message_for_every_list():
    for field in ("projects", "exempt_users", "alert_channel"):
        answer = choices.choices(None, {"parameterName": field})
        [only] = answer["choices"]
        assert "value" not in only and "could not list" in only["label"] and "no DSS API client" in only["label"]
