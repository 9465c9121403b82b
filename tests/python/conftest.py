# confluent_example.py is a script run by a test, not a test module.
collect_ignore = ["confluent_example.py"]
