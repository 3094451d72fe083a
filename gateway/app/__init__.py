"""The composition root: the Gateway and its lifecycle (gateway), the handler side it assembles
(event_side), the --workers parent (workers), group reload over pub/sub (cluster), and the dry run of a
start that `python -m gateway check` is (check). Only the command line, the demo and the test kit import it.
"""
