"""The tools of tools/lib as modules, for their tests and for each other.

Their file names have dashes (failover-analysis.py, udp-stream.py), which `import` cannot name, so they are loaded
by path. Import this from a file in tools/lib: a script's own directory, and the directory `unittest discover -s`
starts in, are on sys.path.
"""
import importlib.util
import os

LIB = os.path.dirname(os.path.abspath(__file__))


def load(name, filename):
    """Loads tools/lib/FILENAME as a module called NAME."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(LIB, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
