"""The screens, one module per area; each page may combine the domains below it."""
