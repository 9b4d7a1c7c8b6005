"""Training methods. Importing this package registers every method and its config."""
