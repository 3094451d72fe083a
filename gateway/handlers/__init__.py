"""Event handlers: `base` (the protocol), `registry` (Tyk names -> factories, and `build`), one
module per kind. Kept empty so that importing the protocol does not import every handler."""
