// The Daraja simulator library.
