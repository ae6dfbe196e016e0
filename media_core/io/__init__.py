"""Media in and out: probing, decoding, video frames, hashing, safe reads, audio output."""
