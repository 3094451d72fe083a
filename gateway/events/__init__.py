"""Events: the catalogue of Tyk's event names and metas, the bus that delivers them, and monitors."""
