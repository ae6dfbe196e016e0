"""Generated media for tests, benchmarks and demos: known answers, seeded randomness."""
from .audio import amp_to_db, car_rumble, db_to_amp, dead_floor, room_tone, speech_like, tone
from .encode import default_frame, read_frame_index, write_media

__all__ = ["write_media", "default_frame", "read_frame_index", "tone", "room_tone", "car_rumble",
           "dead_floor", "speech_like", "db_to_amp", "amp_to_db"]
