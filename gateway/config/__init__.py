"""tyk.conf: its shape, defaults and `load` (model), the rules each value must meet and the TYK_GW_*
variables (check), and Tyk's keys as data for the warnings about keys this gateway does not read (keys).

It reads and checks; it never starts anything (app/ builds the gateway from a loaded Config).
"""
