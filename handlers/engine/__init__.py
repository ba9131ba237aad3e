"""The conversation engine: types that cross to the adapters, routing, rendering and translation."""
