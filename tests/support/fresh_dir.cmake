# cmake -DDIR=... -P fresh_dir.cmake: DIR exists and is empty.
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
