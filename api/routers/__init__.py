"""HTTP endpoints: parse, call one service method, shape the response. No try/except here."""
