"""PythonScriptStep runs (a step of a pipeline) and script runs (ScriptRunConfig), each in a child process."""
