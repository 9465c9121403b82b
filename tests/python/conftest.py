import os
import sys

# Test modules share helpers (`from test_producer import bootstrap, ...`); with pytest's importlib
# import mode (tests/pytest.ini) their folder is not on sys.path by itself.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# confluent_example.py is a script run by a test, not a test module.
collect_ignore = ["confluent_example.py"]
