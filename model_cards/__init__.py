"""Model card templates (`string.Template` syntax, `$name`), rendered by `neuroart.hub.write_model_card`."""
