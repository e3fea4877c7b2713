"""Media: encode images/audio/video to bytes, probe files, decode MP4 into arrays (PyAV, Pillow)."""
