"""`fninfer._restclient`, standing for `azureml._restclient`: Azure ML's internal REST client, which real v1 code
imports for telemetry (the many-models accelerator tags its runs' "traits" with it). The DTO classes exist so such
imports work; fninfer's app has no Azure ML REST service, so a call to it raises UserErrorException saying so."""
