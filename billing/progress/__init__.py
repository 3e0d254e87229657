"""The worklist's progress: the engine's results per patient-month, stored and kept current."""
