"""radonml-flower-app: Byzantine clients and robust aggregation in a Flower simulation."""
