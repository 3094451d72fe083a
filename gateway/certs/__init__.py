"""Certificates: the store of PEM certificates and keys (store), each API's resolved references
(registry), the server and upstream TLS contexts (tls), and the expiry monitor (monitor).

It fires certificate events through the bus it is given and never decides what a request may do.
"""
