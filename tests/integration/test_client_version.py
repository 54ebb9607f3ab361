import os


def test_the_expected_client_is_the_one_in_use(client_version):
    """The compatibility run (make compat) really runs the old client."""
    assert client_version == os.environ.get("NODEOPS_EXPECT_CLIENT", "15.2.0")
