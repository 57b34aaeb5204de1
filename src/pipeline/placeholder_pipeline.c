/* placeholder so the module library is never empty */
int hm_pipeline_module_placeholder;
