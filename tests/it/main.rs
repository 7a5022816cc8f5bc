mod es_output;
