"""`fninfer._restclient.models`, standing for `azureml._restclient.models` (see fninfer/_restclient)."""
