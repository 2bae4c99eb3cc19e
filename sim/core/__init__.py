"""The model itself, arrays in and arrays out: units, the time grid, the parameter
vocabulary, the stock-flow equations and the derived metrics. Imports nothing else of sim."""
