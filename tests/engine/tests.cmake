# the engine test generates 56 s songs (3 codec windows) on a demo checkpoint
set_tests_properties(engine.test_engine PROPERTIES LABELS slow)
