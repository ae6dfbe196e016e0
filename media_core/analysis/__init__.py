"""Analyses of one feed's decode: mutes, gunshots, flashes, the waveform envelope, incident shots."""
