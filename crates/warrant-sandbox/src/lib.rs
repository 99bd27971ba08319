//! Process ancestry, termination and Landlock (being written).
