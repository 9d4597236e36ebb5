// placeholder entry point; replaced by the API server double
return 0;
