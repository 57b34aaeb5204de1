/* placeholder so the module library is never empty */
int hm_tensor_module_placeholder;
