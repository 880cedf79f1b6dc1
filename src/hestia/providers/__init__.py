"""Model providers: one small protocol (`base.Provider`) and its adapters."""
