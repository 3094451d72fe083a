"""API definitions: Tyk Classic and Tyk OAS, parsed into one frozen model (pure: dict in, APISpec out)."""
