"""Reference solutions of the notebooks' exercises (openpose_edu.exercises checks them)."""
