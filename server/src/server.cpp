// The callback server library.
