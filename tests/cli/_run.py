"""Running the ``bnnzoo`` command in-process, for the CLI tests."""

from bnnzoo import cli


def run(capsys, *argv):
    """``bnnzoo ARGV...``: its exit status, stdout and stderr."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
